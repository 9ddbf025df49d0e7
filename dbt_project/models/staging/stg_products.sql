{%- set raw_columns = ['product_key', 'product_name', 'brand', 'color', 'unit_cost_usd', 'unit_price_usd',
                       'subcategory_key', 'subcategory', 'category_key', 'category'] -%}
{%- set text_columns = ['product_name', 'brand', 'color', 'subcategory', 'category'] -%}

with source as (

    select * from {{ source('raw', 'products') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        product_key as product_key_text,
        {{ safe_integer('product_key') }} as product_key,
        {%- for column in ['product_name', 'brand', 'color'] %}
        {{ repair_mojibake(column) }} as {{ column }},
        {%- endfor %}
        unit_cost_usd as unit_cost_text,
        unit_price_usd as unit_price_text,
        {{ money_to_numeric('unit_cost_usd') }} as unit_cost_usd,
        {{ money_to_numeric('unit_price_usd') }} as unit_price_usd,
        subcategory_key,
        {{ repair_mojibake('subcategory') }} as subcategory,
        category_key,
        {{ repair_mojibake('category') }} as category
    from trimmed

)

select * from final
