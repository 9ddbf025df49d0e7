"""What every part of the project shares: settings, errors, the warehouse (connections and lock), the audit
schema, the dbt project's paths and manifest, and where the Data Docs live. Imports nothing of the project."""
