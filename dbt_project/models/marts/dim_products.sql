with products as (

    select * from {{ ref('int_products_deduplicated') }}

),

final as (

    select
        product_key,
        product_name,
        brand,
        color,
        unit_cost_usd,
        unit_price_usd,
        subcategory_key,
        subcategory,
        category_key,
        category,
        source_row,
        load_id
    from products

)

select * from final
