"""Customer service (客服): buyer ↔ brand conversations, routed to the brand's agents, who may send cart cards
and coupons and earn the desk's service fee on orders placed from their conversations (issue 15 point 2)."""
