import type { ApiStyle } from '../shared/config';
import type { FieldIssue } from '../shared/errors';
import type { RenderRequest } from '../shared/renderRequest';

/**
 * What a request asks for that the configured KIE dialect cannot express. Refused at the door
 * rather than silently dropped.
 */
export function checkDialectSupport(req: RenderRequest, style: ApiStyle): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (style === 'sora') {
    if (req.type === 'storyboard') issues.push({ field: 'type', value: req.type, rule: 'storyboard needs KIE_API_STYLE=jobs' });
    if (req.removeWatermark !== undefined) {
      issues.push({ field: 'removeWatermark', value: req.removeWatermark, rule: 'needs KIE_API_STYLE=jobs (the sora API has no such option)' });
    }
  } else {
    if (req.aspectRatio === '1:1') issues.push({ field: 'aspectRatio', value: req.aspectRatio, rule: 'KIE_API_STYLE=jobs renders only 16:9 (landscape) or 9:16 (portrait)' });
    if (req.seed !== undefined) issues.push({ field: 'seed', value: req.seed, rule: 'KIE_API_STYLE=jobs has no seed option' });
  }
  return issues;
}
