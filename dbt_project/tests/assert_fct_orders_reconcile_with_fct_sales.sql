-- fct_orders is fct_sales rolled up: the same orders, lines, units and money to the cent.
-- Returns one row if any total differs.

with lines as (

    select
        count(distinct order_number) as orders,
        count(*) as lines,
        sum(quantity) as units,
        sum(revenue_usd) as revenue_usd,
        sum(cost_usd) as cost_usd,
        sum(margin_usd) as margin_usd,
        sum(revenue_local) as revenue_local
    from {{ ref('fct_sales') }}

),

orders as (

    select
        count(*) as orders,
        sum(lines) as lines,
        sum(units) as units,
        sum(revenue_usd) as revenue_usd,
        sum(cost_usd) as cost_usd,
        sum(margin_usd) as margin_usd,
        sum(revenue_local) as revenue_local
    from {{ ref('fct_orders') }}

)

select lines.*, orders.*
from lines
cross join orders
where lines.orders <> orders.orders
    or lines.lines <> orders.lines
    or lines.units <> orders.units
    or lines.revenue_usd <> orders.revenue_usd
    or lines.cost_usd <> orders.cost_usd
    or lines.margin_usd <> orders.margin_usd
    or lines.revenue_local <> orders.revenue_local
