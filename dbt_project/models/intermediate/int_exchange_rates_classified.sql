with exchange_rates as (

    select * from {{ ref('stg_exchange_rates') }}

),

judged as (

    select
        *,
        coalesce(rate_date_text, '') || '/' || coalesce(currency_code, '') as natural_key,
        case
            when rate_date_status = 'missing' or currency_code is null or not {{ matches('currency_code', '^[A-Z]{3}$') }}
                then 'invalid_key'
            when rate_date_status = 'invalid' then 'invalid_date'
            when rate_date_status = 'implausible' then 'implausible_date'
            when rate_status in ('missing', 'invalid') then 'invalid_rate'
            when rate_status = 'out_of_range' then 'out_of_range'
        end as reject_reason
    from exchange_rates

),

classified as (

    {{ classify_records('judged', ['rate_date', 'currency_code'], 'source_row') }}

),

final as (

    select
        source_row,
        load_id,
        natural_key,
        rate_date,
        currency_code,
        raw_record,
        reject_reason,
        copy_number,
        preference_rank,
        disposition
    from classified

)

select * from final
