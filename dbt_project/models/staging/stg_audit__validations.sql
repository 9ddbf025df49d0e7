with source as (

    select * from {{ source('audit', 'validations') }}

),

final as (

    select * from source

)

select * from final
