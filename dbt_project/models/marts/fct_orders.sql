with sales as (

    select * from {{ ref('fct_sales') }}

),

final as (

    select
        order_number,
        min(customer_key) as customer_key,
        min(store_key) as store_key,
        min(order_date) as order_date,
        max(order_date) as last_line_date,
        max(delivery_date) as delivery_date,
        count(case when delivery_date_status in ('invalid', 'implausible') then 1 end)
            as unreadable_delivery_lines,
        min(currency_code) as currency_code,
        bool_or(is_online) as is_online,
        count(*) as lines,
        sum(quantity) as units,
        sum(revenue_usd) as revenue_usd,
        sum(cost_usd) as cost_usd,
        sum(margin_usd) as margin_usd,
        sum(revenue_local) as revenue_local
    from sales
    group by order_number

)

select * from final
