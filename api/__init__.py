"""REST API over the warehouse: run results, dbt resources and artifacts, the reports, the dbt docs site."""
