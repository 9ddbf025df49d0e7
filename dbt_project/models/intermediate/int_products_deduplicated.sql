with classified as (

    select * from {{ ref('int_products_classified') }}

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
    from classified
    where disposition = 'clean'

)

select * from final
