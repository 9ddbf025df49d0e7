#!/usr/bin/env bash
# airflow-init: migrate Airflow's metadata database, then write the admin's password (from
# AIRFLOW_ADMIN_PASSWORD) where the simple auth manager of the api-server reads it.
set -euo pipefail
: "${AIRFLOW_ADMIN_USER:?set AIRFLOW_ADMIN_USER in docker/.env}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in docker/.env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?the compose file sets it}"

airflow db migrate
mkdir -p "$(dirname "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")"
python -c 'import json, os, sys; json.dump({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, sys.stdout)' \
    > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
echo "airflow-init: metadata database migrated; user $AIRFLOW_ADMIN_USER can log in"
