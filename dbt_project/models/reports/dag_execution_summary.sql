{#
  One row per pipeline run, newest first, from audit.runs. A view, so a run shows up as soon as it
  is recorded (including the run that built this view).
#}
{{ config(materialized='view') }}

with runs as (

    select * from {{ ref('stg_audit__runs') }}

),

final as (

    select
        run_id,
        trigger,
        command,
        target,
        started_at,
        finished_at,
        seconds,
        rows_loaded,
        models_built,
        tests_passed,
        tests_failed,
        status,
        load_seconds,
        data_docs_seconds,
        validate_seconds,
        build_seconds,
        export_seconds,
        docs_seconds,
        error
    from runs

)

select * from final
