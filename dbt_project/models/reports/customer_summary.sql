with customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

per_customer as (

    select
        customer_key,
        count(*) as orders,
        sum(lines) as lines,
        sum(units) as units,
        sum(revenue_usd) as revenue_usd,
        min(order_date) as first_order_date,
        max(last_line_date) as last_order_date
    from orders
    group by customer_key

),

final as (

    select
        customers.customer_key,
        customers.name,
        customers.country,
        coalesce(per_customer.orders, 0) as orders,
        coalesce(per_customer.lines, 0) as lines,
        coalesce(per_customer.units, 0) as units,
        coalesce(per_customer.revenue_usd, 0) as revenue_usd,
        per_customer.first_order_date,
        per_customer.last_order_date,
        {{ ratio('per_customer.revenue_usd', 'per_customer.orders') }} as avg_order_value_usd
    from customers
    left join per_customer on customers.customer_key = per_customer.customer_key

)

select * from final
