{#
  Schemas are exactly these names (staging, intermediate, marts, reports, audit) on
  every target: a model's custom schema is used as-is instead of dbt's default `<target>_<custom>`.

  Write-audit-publish (docs/publishing.md): when ELT_BUILD_SCHEMA_SUFFIX is set (the elt pipeline and
  the Airflow DAG set it to `__build`), every custom schema gets that suffix, so the build and its
  tests write `marts__build`, ... and readers keep the published `marts` until the pipeline publishes a
  build that passed. Never suffixed: `audit` (written from Python), `raw` (the loader's), `snapshots`
  (history that must outlive builds) and the target's own schema. `dbt build` run by hand without the
  variable builds in place, as before.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = env_var('ELT_BUILD_SCHEMA_SUFFIX', '') | trim -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif suffix and (custom_schema_name | trim | lower) not in ('audit', 'raw', 'snapshots')
            and not (node is not none and node.resource_type == 'snapshot') -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
