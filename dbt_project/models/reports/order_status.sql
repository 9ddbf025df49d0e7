with orders as (

    select * from {{ ref('fct_orders') }}

),

final as (

    select
        order_number,
        customer_key,
        store_key,
        order_date,
        delivery_date,
        case
            when delivery_date is not null then 'delivered'
            when unreadable_delivery_lines > 0 then 'unreadable_delivery_date'
            else 'pending'
        end as status,
        case
            when delivery_date is not null then {{ days_between('order_date', 'delivery_date') }}
        end as delivery_days,
        case when is_online then 'online' else 'store' end as channel,
        lines,
        revenue_usd
    from orders

)

select * from final
