{%- set raw_columns = ['store_key', 'country', 'state', 'square_meters', 'open_date'] -%}

with source as (

    select * from {{ source('raw', 'stores') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}
    {{ row_fence() }}

),

date_parts as (

    select *, {{ date_text('open_date') }} as open_date_part from trimmed
    {{ row_fence() }}

),

parsed as (

    select
        *,
        {{ parse_date('open_date_part', 'MDY') }} as open_date_parsed,
        {{ parse_integer('square_meters') }} as square_meters_parsed
    from date_parts
    {{ row_fence() }}

),

statused as (

    select
        *,
        {{ date_status('open_date', 'open_date_parsed') }} as open_date_status,
        {{ value_status('square_meters', integer_shape('square_meters'), 'square_meters_parsed', 1, var('square_meters_max')) }}
            as square_meters_status
    from parsed

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        store_key as store_key_text,
        {{ parse_integer('store_key') }} as store_key,
        {{ repair_mojibake('country') }} as country,
        {{ repair_mojibake('state') }} as state,
        square_meters as square_meters_text,
        case when square_meters_status = 'valid' then square_meters_parsed end as square_meters,
        square_meters_status,
        open_date as open_date_text,
        case when open_date_status = 'valid' then open_date_parsed end as open_date,
        open_date_status
    from statused

)

select * from final
