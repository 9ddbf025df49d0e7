"""The SQL the API runs, one module per resource (runs, dbt nodes' executions, sources, rejected records,
reports, health, the dashboard's charts).

Each function takes a Connection and typed arguments and returns schema objects or rows; the routes in
api.routes keep to HTTP: parameters, status codes, response models and what is cached. Statements use `?`
placeholders (see core.warehouse.Connection).
"""
