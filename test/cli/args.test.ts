import t from 'tap';
import { helpText } from '../../cli/args.ts';

t.test('help lists every option with its default', async (t) => {
  const text = helpText({ usage: 'x [options]', summary: 'does x', options: { batch: { type: 'string', value: 'N', default: '8', help: 'batch size' } } });
  t.match(text, /--batch N\s+batch size \(default: 8\)/);
  t.match(text, /--help, -h/);
});
