// Types shared by main.bicep and graph-grants.bicep, so both read the same `apis` array.

@export()
@description('A protected API the worker calls: its app settings (API_<NAME>_*) and the app roles the worker holds on it.')
type api = {
  @description('Short name; the worker reads API_<NAME>_BASE_URL etc. with it upper-cased (orders → API_ORDERS_*).')
  @minLength(1)
  name: string

  @description('Base URL the handlers call (API_<NAME>_BASE_URL).')
  baseUrl: string

  @description('One app-only scope, e.g. api://<appId>/.default (API_<NAME>_SCOPE).')
  scope: string

  @description('The API\'s application (client) id: graph-grants.bicep finds its service principal by it.')
  appId: string

  @description('Values of the API\'s app roles the worker identity holds, e.g. Orders.Read (case-sensitive).')
  roles: string[]

  @description('Optional: most handlers of this API running at once (API_<NAME>_CONCURRENCY).')
  concurrency: int?

  @description('Optional: calls per interval, e.g. 10/1s (API_<NAME>_RATE_LIMIT).')
  rateLimit: string?
}
