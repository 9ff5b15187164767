"""Cells for spreadsheets. Names and tags come from whoever deployed an asset: a cell that
starts like a formula is quoted so a spreadsheet shows it as text instead of running it."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
