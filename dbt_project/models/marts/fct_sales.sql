{#
  Incremental: each build adds the lines of the latest Sales file that are new or changed (by line_hash),
  on (order_number, line_item). Lines missing from the file are kept (a file may be a delta); a line the
  latest file now rejects (an orphan, a bad quantity, ...) is removed, so a rejected line is never also a
  fact; so is a kept line whose customer, product or store is no longer in its dimension (it would be an
  orphan). A full refresh rebuilds from the file alone.
  How, per target (macros/fct_sales.sql): DuckDB and Postgres merge the new and changed lines, then delete
  by post-hooks; Spark (no MERGE or DELETE on its parquet tables) overwrites the table with the whole new
  table, selected from a copy of the previous one. The strategy is set in dbt_project.yml.
  A column added to the model is appended to an existing table (on_schema_change); it is part of
  line_hash, so the next build re-merges every line and fills it.
#}
{{
    config(
        materialized='incremental',
        unique_key=['order_number', 'line_item'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ fct_sales_previous('drop') }}",
            "{{ fct_sales_previous('copy') }}",
        ],
        post_hook=[
            "{{ fct_sales_prune('rejected') }}",
            "{{ fct_sales_prune('orphan_customer') }}",
            "{{ fct_sales_prune('orphan_product') }}",
            "{{ fct_sales_prune('orphan_store') }}",
            "{{ fct_sales_previous('drop') }}",
        ]
    )
}}

-- depends_on: {{ ref('int_sales_classified') }}
-- depends_on: {{ ref('dim_customers') }}

{% set line_ctes -%}
with sales as (

    select * from {{ ref('int_sales_deduplicated') }}

),

products as (

    select product_key, unit_price_usd, unit_cost_usd from {{ ref('dim_products') }}

),

stores as (

    select store_key, is_online from {{ ref('dim_stores') }}

),

priced as (

    select
        sales.order_number,
        sales.line_item,
        sales.order_date,
        sales.delivery_date,
        sales.delivery_date_status,
        sales.customer_key,
        sales.store_key,
        sales.product_key,
        sales.currency_code,
        stores.is_online,
        sales.quantity,
        products.unit_price_usd,
        products.unit_cost_usd,
        cast(sales.quantity * products.unit_price_usd as numeric(18, 2)) as revenue_usd,
        cast(sales.quantity * products.unit_cost_usd as numeric(18, 2)) as cost_usd,
        cast(sales.quantity * (products.unit_price_usd - products.unit_cost_usd) as numeric(18, 2)) as margin_usd,
        sales.rate_date,
        sales.exchange_rate,
        cast(round(sales.quantity * products.unit_price_usd * sales.exchange_rate, 2) as numeric(18, 2))
            as revenue_local,
        sales.load_id
    from sales
    inner join products on sales.product_key = products.product_key
    inner join stores on sales.store_key = stores.store_key

),

fingerprinted as (

    select
        *,
        md5(
            {%- for column in ['order_date', 'delivery_date', 'delivery_date_status', 'customer_key', 'store_key', 'product_key',
                               'currency_code', 'quantity', 'unit_price_usd', 'unit_cost_usd', 'rate_date',
                               'exchange_rate'] %}
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), '~'){{ " || '|' ||" if not loop.last }}
            {%- endfor %}
        ) as line_hash
    from priced

)
{%- endset %}

{{ line_ctes }},

final as (

    {{ incremental_fact_lines('fingerprinted', line_ctes ~ '\nselect * from fingerprinted') }}

)

select * from final
