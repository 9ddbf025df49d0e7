{%- set raw_columns = ['store_key', 'country', 'state', 'square_meters', 'open_date'] -%}

with source as (

    select * from {{ source('raw', 'stores') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        store_key as store_key_text,
        {{ safe_integer('store_key') }} as store_key,
        {{ repair_mojibake('country') }} as country,
        {{ repair_mojibake('state') }} as state,
        {{ safe_integer('square_meters') }} as square_meters,
        {{ parse_date('open_date', 'MDY') }} as open_date
    from trimmed

)

select * from final
