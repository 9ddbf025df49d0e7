{%- set features = ['recency_days', 'frequency', 'monetary_usd', 'age'] -%}

with orders as (

    select * from {{ ref('fct_orders') }}

),

customers as (

    select customer_key, age from {{ ref('dim_customers') }}

),

as_of as (

    select max(last_line_date) as as_of_date from orders

),

per_customer as (

    select
        orders.customer_key,
        max(orders.last_line_date) as last_order_date,
        count(*) as frequency,
        sum(orders.revenue_usd) as monetary_usd
    from orders
    group by orders.customer_key

),

features as (

    select
        per_customer.customer_key,
        per_customer.last_order_date,
        {{ days_between('per_customer.last_order_date', 'as_of.as_of_date') }} as recency_days,
        per_customer.frequency,
        per_customer.monetary_usd,
        customers.age
    from per_customer
    inner join customers on per_customer.customer_key = customers.customer_key
    cross join as_of

),

final as (

    select
        customer_key,
        last_order_date,
        {%- for feature in features %}
        {{ feature }},
        {%- endfor %}
        {%- for feature in features %}
        (cast({{ feature }} as {{ type_double() }}) - avg(cast({{ feature }} as {{ type_double() }})) over ())
            / nullif(stddev_samp(cast({{ feature }} as {{ type_double() }})) over (), 0) as {{ feature }}_z{{ ',' if not loop.last }}
        {%- endfor %}
    from features

)

select * from final
