with products as (

    select * from {{ ref('dim_products') }}

),

sales as (

    select * from {{ ref('fct_sales') }}

),

per_product as (

    select
        product_key,
        sum(quantity) as units,
        sum(revenue_usd) as revenue_usd,
        sum(cost_usd) as cost_usd,
        sum(margin_usd) as margin_usd
    from sales
    group by product_key

),

totals as (

    select
        products.product_key,
        products.product_name,
        products.brand,
        products.category,
        products.subcategory,
        coalesce(per_product.units, 0) as units,
        coalesce(per_product.revenue_usd, 0) as revenue_usd,
        coalesce(per_product.cost_usd, 0) as cost_usd,
        coalesce(per_product.margin_usd, 0) as margin_usd
    from products
    left join per_product on products.product_key = per_product.product_key

),

final as (

    select
        *,
        {{ ratio('100 * margin_usd', 'revenue_usd') }} as margin_pct,
        rank() over (order by revenue_usd desc) as rank_overall,
        rank() over (partition by category order by revenue_usd desc) as rank_in_category
    from totals

)

select * from final
