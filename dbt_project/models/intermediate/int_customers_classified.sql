with customers as (

    select * from {{ ref('stg_customers') }}

),

judged as (

    select
        *,
        customer_key_text as natural_key,
        case when customer_key is null then 'invalid_key' end as reject_reason,
        {{ count_non_null(['customer_key', 'gender', 'name', 'city', 'state_code', 'state', 'zip_code',
                           'country', 'continent', 'birthday', 'age_reported', 'email']) }} as non_null_fields
    from customers

),

classified as (

    {{ classify_records('judged', ['customer_key'], "case when email_status = 'valid' then 0 else 1 end, non_null_fields desc, source_row") }}

),

final as (

    select
        source_row,
        load_id,
        natural_key,
        customer_key,
        non_null_fields,
        raw_record,
        reject_reason,
        copy_number,
        preference_rank,
        disposition
    from classified

)

select * from final
