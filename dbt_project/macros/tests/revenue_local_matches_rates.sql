{#
  Every sales line uses the latest rate of its currency on or before its order date, and
  revenue_local = round(revenue_usd x that rate, 2). Returns the lines that break either rule.
#}
{% test revenue_local_matches_rates(model, rates_model) %}

with rates as (

    select
        currency_code,
        rate_date,
        rate,
        lead(rate_date) over (partition by currency_code order by rate_date) as next_rate_date
    from {{ rates_model }}

),

checked as (

    select
        sales.order_number,
        sales.line_item,
        sales.currency_code,
        sales.order_date,
        sales.rate_date,
        sales.exchange_rate,
        rates.rate,
        rates.next_rate_date,
        sales.revenue_usd,
        sales.revenue_local
    from {{ model }} as sales
    left join rates
        on sales.currency_code = rates.currency_code
        and sales.rate_date = rates.rate_date

)

select *
from checked
where rate is null
    or exchange_rate <> rate
    or rate_date > order_date
    or order_date >= next_rate_date
    or revenue_local <> round(revenue_usd * rate, 2)

{% endtest %}
