#!/usr/bin/env bash
# Runs once, when the postgres volume is first initialised: Airflow's metadata database and its own
# role, beside the warehouse database (POSTGRES_DB).
set -euo pipefail
: "${AIRFLOW_DB:?}" "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$AIRFLOW_DB" -v user="$AIRFLOW_DB_USER" -v password="$AIRFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
