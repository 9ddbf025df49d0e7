with customers as (

    select * from {{ ref('stg_customers') }}

),

judged as (

    select
        *,
        customer_key_text as natural_key,
        case when customer_key is null then 'invalid_key' end as reject_reason,
        case when email_status = 'valid' then 0 else 1 end as email_preference,
        {{ count_non_null(['customer_key', 'gender', 'name', 'city', 'state_code', 'state', 'zip_code',
                           'country', 'continent', 'birthday', 'age_reported', 'email']) }} as non_null_fields
    from customers

),

classified as (

    {{ classify_records('judged', ['customer_key'], 'email_preference, non_null_fields desc, source_row') }}

)

select * from classified
