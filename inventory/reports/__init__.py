"""Posture reports: figures from ``inventory.selectors.posture_report``, rendered as HTML, PDF
and CSV (``render``), made and kept (``making``) and sent by e-mail (``mail``)."""
