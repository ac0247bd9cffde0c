/**
 * The tool the SDK e2e tests call (2.6 and 4.6 stacks). Enums and booleans only: a random-weight
 * model constrained to the schema would otherwise write a free string until max_tokens.
 */
export const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] }, celsius: { type: 'boolean' } }, required: ['city', 'celsius'], additionalProperties: false },
  },
};
