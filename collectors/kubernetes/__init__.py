"""Kubernetes clusters: the cluster, its workloads and their containers, exposure through
Services and Ingresses, functions on Knative and OpenFaaS, and audit events as access history.

Imports inside this package are absolute: ``import kubernetes`` always means the client library.
"""
