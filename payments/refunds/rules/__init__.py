"""Pure refund rules: statuses and transitions, what is still refundable, four eyes, settling by
hand, the resource the API and events show."""
