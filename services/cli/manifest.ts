import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { activitySpecSchema, type ActivitySpec } from '../core/activity/spec.js';
import { ACTIVITY_NAME } from '../core/redis/keys.js';

export interface ActivityManifest {
  name: string;
  namespace: string | undefined;
  spec: ActivitySpec;
}

const manifestSchema = z.object({
  apiVersion: z.literal('stampede.dev/v1alpha1'),
  kind: z.literal('SeckillActivity'),
  metadata: z
    .object({ name: z.string().regex(ACTIVITY_NAME, 'a DNS-1123 name'), namespace: z.string().optional() })
    .passthrough(),
  spec: activitySpecSchema,
  status: z.unknown().optional(),
});

/** Every SeckillActivity in a YAML stream, validated with the schema the CRD carries; errors name the path. */
export function parseManifests(text: string): ActivityManifest[] {
  const docs = parseAllDocuments(text);
  const out: ActivityManifest[] = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) throw new Error(`document ${i + 1}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const r = manifestSchema.safeParse(value);
    if (!r.success) {
      const issues = r.error.issues.map((x) => `${x.path.join('.') || '(root)'}: ${x.message}`).join('; ');
      throw new Error(`document ${i + 1}: ${issues}`);
    }
    out.push({ name: r.data.metadata.name, namespace: r.data.metadata.namespace, spec: r.data.spec });
  });
  return out;
}
