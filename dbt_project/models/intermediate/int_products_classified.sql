with products as (

    select * from {{ ref('stg_products') }}

),

judged as (

    select
        *,
        product_key_text as natural_key,
        case
            when product_key is null then 'invalid_key'
            when unit_price_status in ('missing', 'invalid') or unit_cost_status in ('missing', 'invalid')
                then 'invalid_price'
            when unit_price_status = 'out_of_range' or unit_cost_status = 'out_of_range' then 'out_of_range'
        end as reject_reason,
        {{ count_non_null(['product_key', 'product_name', 'brand', 'color', 'unit_cost_usd', 'unit_price_usd',
                           'subcategory_key', 'subcategory', 'category_key', 'category']) }} as non_null_fields
    from products

),

classified as (

    {{ classify_records('judged', ['product_key'], 'non_null_fields desc, source_row') }}

),

final as (

    select
        source_row,
        load_id,
        natural_key,
        product_key,
        non_null_fields,
        raw_record,
        reject_reason,
        copy_number,
        preference_rank,
        disposition
    from classified

)

select * from final
