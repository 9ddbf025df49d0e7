{{ config(materialized='view') }}  {# current as soon as audit changes #}

with source as (

    select * from {{ source('audit', 'loads') }}

),

final as (

    select * from source

)

select * from final
