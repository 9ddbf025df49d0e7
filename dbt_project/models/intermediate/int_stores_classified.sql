with stores as (

    select * from {{ ref('stg_stores') }}

),

judged as (

    select
        *,
        store_key_text as natural_key,
        case when store_key is null then 'invalid_key' end as reject_reason,
        {{ count_non_null(['store_key', 'country', 'state', 'square_meters', 'open_date']) }} as non_null_fields
    from stores

),

classified as (

    {{ classify_records('judged', ['store_key'], 'non_null_fields desc, source_row') }}

),

final as (

    select
        source_row,
        load_id,
        natural_key,
        store_key,
        non_null_fields,
        raw_record,
        reject_reason,
        copy_number,
        preference_rank,
        disposition
    from classified

)

select * from final
