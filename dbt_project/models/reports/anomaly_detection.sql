{#
  Outliers by z-score (|z| >= var anomaly_z_threshold, 3 by default):
    order_line  revenue_usd of a line against all lines of its product category
    day         revenue_usd of a day against all days with sales
  `population` names the group the mean and (sample) standard deviation were taken over.
#}
{%- set threshold = var('anomaly_z_threshold') -%}

with sales as (

    select * from {{ ref('fct_sales') }}

),

products as (

    select product_key, category from {{ ref('dim_products') }}

),

lines as (

    select
        cast(sales.order_number as {{ dbt.type_string() }}) || '-'
            || cast(sales.line_item as {{ dbt.type_string() }}) as entity_key,
        products.category as population,
        cast(sales.revenue_usd as {{ type_double() }}) as value
    from sales
    inner join products on sales.product_key = products.product_key

),

days as (

    select
        cast(order_date as {{ dbt.type_string() }}) as entity_key,
        'all days' as population,
        cast(sum(revenue_usd) as {{ type_double() }}) as value
    from sales
    group by order_date

),

scored as (

    select
        'order_line' as entity,
        entity_key,
        population,
        value,
        avg(value) over (partition by population) as mean,
        stddev_samp(value) over (partition by population) as stddev
    from lines
    union all
    select
        'day' as entity,
        entity_key,
        population,
        value,
        avg(value) over () as mean,
        stddev_samp(value) over () as stddev
    from days

),

final as (

    select
        entity,
        entity_key,
        population,
        'revenue_usd' as metric,
        value,
        mean,
        stddev,
        (value - mean) / stddev as z_score
    from scored
    where stddev > 0 and abs(value - mean) / stddev >= {{ threshold }}

)

select * from final
