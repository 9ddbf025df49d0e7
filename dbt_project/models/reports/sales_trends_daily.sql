{%- set currencies = var('report_currencies') -%}

with dates as (

    select date_day from {{ ref('dim_dates') }}

),

sales as (

    select * from {{ ref('fct_sales') }}

),

-- Every day from the first to the last order date, days without sales included (as zeros).
days as (

    select dates.date_day
    from dates
    where dates.date_day between (select min(order_date) from sales) and (select max(order_date) from sales)

),

per_day as (

    select
        order_date,
        count(distinct order_number) as orders,
        count(*) as lines,
        sum(quantity) as units,
        sum(revenue_usd) as revenue_usd,
        {%- for currency in currencies %}
        sum(case when currency_code = '{{ currency }}' then revenue_local else 0 end)
            as revenue_local_{{ currency | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from sales
    group by order_date

),

filled as (

    select
        days.date_day,
        coalesce(per_day.orders, 0) as orders,
        coalesce(per_day.lines, 0) as lines,
        coalesce(per_day.units, 0) as units,
        coalesce(per_day.revenue_usd, 0) as revenue_usd,
        {%- for currency in currencies %}
        coalesce(per_day.revenue_local_{{ currency | lower }}, 0) as revenue_local_{{ currency | lower }}{{ ',' if not loop.last }}
        {%- endfor %}
    from days
    left join per_day on days.date_day = per_day.order_date

),

final as (

    select
        *,
        {{ ratio('sum(revenue_usd) over (order by date_day rows between 6 preceding and current row)',
                 'count(*) over (order by date_day rows between 6 preceding and current row)') }}
            as revenue_usd_7d_avg,
        revenue_usd - lag(revenue_usd) over (order by date_day) as revenue_usd_change
    from filled

)

select * from final
