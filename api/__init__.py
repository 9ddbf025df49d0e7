"""REST API over the warehouse: run results, dbt resources and artifacts, the nine reports, the dbt docs site."""
