{%- set raw_columns = ['product_key', 'product_name', 'brand', 'color', 'unit_cost_usd', 'unit_price_usd',
                       'subcategory_key', 'subcategory', 'category_key', 'category'] -%}
{%- set text_columns = ['product_name', 'brand', 'color', 'subcategory', 'category'] -%}

with source as (

    select * from {{ source('raw', 'products') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}
    {{ row_fence() }}

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        product_key as product_key_text,
        {{ parse_integer('product_key') }} as product_key,
        {%- for column in ['product_name', 'brand', 'color'] %}
        {{ repair_mojibake(column) }} as {{ column }},
        {%- endfor %}
        unit_cost_usd as unit_cost_text,
        unit_price_usd as unit_price_text,
        {{ parse_money('unit_cost_usd') }} as unit_cost_usd,
        {{ parse_money('unit_price_usd') }} as unit_price_usd,
        {{ money_status('unit_cost_usd', var('price_max')) }} as unit_cost_status,
        {{ money_status('unit_price_usd', var('price_max')) }} as unit_price_status,
        subcategory_key,
        {{ repair_mojibake('subcategory') }} as subcategory,
        category_key,
        {{ repair_mojibake('category') }} as category
    from trimmed

)

select * from final
