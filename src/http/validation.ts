// Route validation: TypeBox schemas compiled once, strict reading of path, query and header values, and errors that
// name the parameter and the rule. Installed by buildApp (app.ts) as Fastify's validator compiler.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import type { FastifySchemaCompiler } from 'fastify';
import { HttpError } from './errors';
import { PATTERN_RULES } from './schemas-common';

/** A plain base-10 integer as the wire carries it: no sign but '-', no fraction, exponent, hex or spaces. */
const PLAIN_INTEGER = /^-?[0-9]+$/;

type Part = 'body' | 'querystring' | 'params' | 'headers';

const LABELS: Record<Exclude<Part, 'body'>, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
};

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const compiled = TypeCompiler.Compile(schema);
  const part = (httpPart ?? 'body') as Part;
  return (input: unknown) => {
    let value = input;
    if (part === 'body') {
      // Fastify hands a missing body over as null: say that it is missing rather than that null is not an object.
      const objects =
        schema.type === 'object' ||
        (schema.anyOf as TSchema[] | undefined)?.every((v) => v.type === 'object');
      if (value === null && objects)
        return { error: new HttpError('invalid_argument', 'body: a JSON object is required') };
    } else {
      const read = fromWire(schema, input, part);
      if (read instanceof HttpError) return { error: read };
      value = read;
    }
    if (compiled.Check(value)) return { value };
    const first = compiled.Errors(value).First();
    return {
      error: new HttpError('invalid_argument', first ? describe(part, first) : `${part}: is invalid`),
    };
  };
};

/**
 * Path, query and header values arrive as text. Fastify's usual coercion reads `1.5`, `true` and `0x10` as
 * integers; here an integer is only a plain base-10 integer that is exact as a double, and a repeated query
 * parameter is refused rather than silently picking one. Anything else stays text and fails the schema.
 */
function fromWire(schema: TSchema, input: unknown, part: Exclude<Part, 'body'>): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [name, property] of Object.entries(properties)) {
    const raw = out[name];
    if (raw === undefined) continue;
    if (Array.isArray(raw)) return new HttpError('invalid_argument', `${LABELS[part]} ${name}: send it once`);
    if (typeof raw !== 'string') continue;
    if (property.type === 'integer') {
      const n = Number(raw);
      if (!PLAIN_INTEGER.test(raw) || !Number.isSafeInteger(n))
        return new HttpError('invalid_argument', `${LABELS[part]} ${name}: must be a base-10 integer`);
      out[name] = n;
    } else if (property.type === 'boolean') {
      if (raw !== 'true' && raw !== 'false')
        return new HttpError('invalid_argument', `${LABELS[part]} ${name}: must be true or false`);
      out[name] = raw === 'true';
    }
  }
  return out;
}

/**
 * One error as `<where>: <rule>`; it names fields and limits, never echoes the value sent. For a union of objects
 * told apart by a literal (a message's role), the error is the one of the variant the value chose.
 */
function describe(part: Part, error: ValueError): string {
  // A union's variants' errors are one-shot iterators: read them once.
  const variants = error.type === ValueErrorType.Union ? (error.errors ?? []).map((v) => [...v]) : [];
  const chosen = variants.find(
    (errors) => errors.length > 0 && discriminantErrors(error, errors).length === 0,
  );
  if (chosen) return describe(part, chosen[0]);
  const where =
    part === 'body' ? `body${error.path}` : `${LABELS[part]} ${error.path.replace(/^\//, '').split('/')[0]}`;
  return `${where}: ${rule(error, variants)}`;
}

/** A literal a union's variant requires of the value's own fields (`role: 'tool'`), which the value lacks. */
function discriminantErrors(union: ValueError, errors: ValueError[]): ValueError[] {
  return errors.filter(
    (e) =>
      e.type === ValueErrorType.Literal &&
      e.path.startsWith(`${union.path}/`) &&
      !e.path.slice(union.path.length + 1).includes('/'),
  );
}

function rule(error: ValueError, variants: ValueError[][]): string {
  const s = error.schema as Record<string, unknown>;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known field';
    case ValueErrorType.ObjectMinProperties:
      return `must have at least ${String(s.minProperties)} key(s)`;
    case ValueErrorType.Object:
      return 'must be a JSON object';
    case ValueErrorType.Array:
      return 'must be an array';
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${String(s.maxItems)} items`;
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters`;
    case ValueErrorType.StringPattern:
      return PATTERN_RULES[String(s.pattern)] ?? `must match ${String(s.pattern)}`;
    case ValueErrorType.Integer:
      return 'must be an integer';
    case ValueErrorType.Number:
      return 'must be a number';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${String(s.minimum)}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${String(s.maximum)}`;
    case ValueErrorType.Union: {
      const options = (s.anyOf as Record<string, unknown>[] | undefined) ?? [];
      if (options.length > 0 && options.every((o) => typeof o.const === 'string'))
        return `must be one of ${options.map((o) => String(o.const)).join(', ')}`;
      // Objects told apart by a literal field none of whose values the value has (a message with an unknown role).
      const misses = variants.flatMap((errors) => discriminantErrors(error, errors));
      if (misses.length > 0) {
        const field = misses[0].path.slice(error.path.length + 1);
        const values = [...new Set(misses.map((e) => String(e.schema.const)))];
        return `${field} must be one of ${values.join(', ')}`;
      }
      return 'is not a valid value';
    }
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} items`;
    default:
      return error.message;
  }
}
