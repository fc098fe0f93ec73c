-- Reserved: GET /resources/{id} is one plain HMGET, it needs no script.
return { 'ok' }
