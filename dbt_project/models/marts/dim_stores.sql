with stores as (

    select * from {{ ref('int_stores_deduplicated') }}

),

final as (

    select
        store_key,
        case when store_key = {{ var('online_store_key') }} then 'Online' else country || ' / ' || state end as store_name,
        country,
        state,
        square_meters,
        square_meters_status,
        open_date,
        open_date_status,
        store_key = {{ var('online_store_key') }} as is_online,
        source_row,
        load_id
    from stores

)

select * from final
