// /docs: Swagger UI over /openapi.json; "Try it out" sends the console's session cookie (same origin).
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: false });
