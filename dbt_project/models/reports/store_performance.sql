with stores as (

    select * from {{ ref('dim_stores') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

per_store as (

    select
        store_key,
        count(*) as orders,
        sum(units) as units,
        sum(revenue_usd) as revenue_usd
    from orders
    group by store_key

),

totals as (

    select
        stores.store_key,
        stores.store_name,
        stores.country,
        stores.state,
        case when stores.is_online then 'online' else 'store' end as channel,
        stores.square_meters,
        coalesce(per_store.orders, 0) as orders,
        coalesce(per_store.units, 0) as units,
        coalesce(per_store.revenue_usd, 0) as revenue_usd
    from stores
    left join per_store on stores.store_key = per_store.store_key

),

final as (

    select
        *,
        case when channel = 'store' then {{ ratio('revenue_usd', 'square_meters') }} end as revenue_per_m2,
        rank() over (order by revenue_usd desc) as revenue_rank
    from totals

)

select * from final
