{%- set sources = ['customers', 'products', 'stores', 'exchange_rates', 'sales'] -%}

with
{%- for source_name in sources %}

{{ source_name }} as (

    select
        '{{ source_name }}' as source,
        source_row,
        natural_key,
        disposition as reason,
        raw_record,
        load_id
    from {{ ref('int_' ~ source_name ~ '_classified') }}
    where {{ is_rejected() }}

),
{%- endfor %}

final as (
    {%- for source_name in sources %}
    select * from {{ source_name }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
