with staged as (

    select * from {{ ref('stg_products') }}

),

classified as (

    select * from {{ ref('int_products_classified') }}

),

final as (

    select
        staged.product_key,
        staged.product_name,
        staged.brand,
        staged.color,
        staged.unit_cost_usd,
        staged.unit_price_usd,
        staged.subcategory_key,
        staged.subcategory,
        staged.category_key,
        staged.category,
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
