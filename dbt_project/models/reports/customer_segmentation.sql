{#
  RFM segments. Scores are quintiles 1-5 (ntile over all buying customers, ties broken by customer
  key): r_score 5 = most recent, f_score 5 = most orders, m_score 5 = most revenue. Segment rules, in order:
    Champions    r >= 4 and f >= 4
    Loyal        r >= 3 and f >= 3
    Potential    r >= 3                (recent, few orders)
    At Risk      f >= 3                (used to buy often, not lately)
    Hibernating  r = 2
    Lost         r = 1
#}

with features as (

    select * from {{ ref('customer_features') }}

),

scored as (

    select
        customer_key,
        recency_days,
        frequency,
        monetary_usd,
        ntile(5) over (order by recency_days desc, customer_key) as r_score,
        ntile(5) over (order by frequency, customer_key) as f_score,
        ntile(5) over (order by monetary_usd, customer_key) as m_score
    from features

),

final as (

    select
        customer_key,
        recency_days,
        frequency,
        monetary_usd,
        r_score,
        f_score,
        m_score,
        cast(r_score as {{ dbt.type_string() }})
            || cast(f_score as {{ dbt.type_string() }})
            || cast(m_score as {{ dbt.type_string() }}) as rfm_cell,
        case
            when r_score >= 4 and f_score >= 4 then 'Champions'
            when r_score >= 3 and f_score >= 3 then 'Loyal'
            when r_score >= 3 then 'Potential'
            when f_score >= 3 then 'At Risk'
            when r_score = 2 then 'Hibernating'
            else 'Lost'
        end as segment
    from scored

)

select * from final
