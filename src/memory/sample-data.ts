// The reference MockSessionService's four sample sessions, with timestamps relative to a given clock.
// Used by InMemorySessionService (sampleData: true, the default) and by demos and tests that want data.
import type { ConversationContext } from '../types';

/** The reference's sample sessions at `now` (Unix seconds): three of user 1, one of user 2. */
export function sampleSessions(now: number): ConversationContext[] {
  return [
    {
      sessionId: 'session-001',
      userId: 1,
      agentType: 'memo',
      messages: [
        { role: 'user', content: '帮我查找上周的笔记' },
        { role: 'assistant', content: '我找到了5条上周的笔记。' },
      ],
      metadata: { topic: '笔记搜索' },
      createdAt: now - 3600,
      updatedAt: now - 1800,
    },
    {
      sessionId: 'session-002',
      userId: 1,
      agentType: 'schedule',
      messages: [
        { role: 'user', content: '明天下午3点提醒我开会' },
        { role: 'assistant', content: '好的，已设置提醒。' },
      ],
      metadata: { topic: '日程创建' },
      createdAt: now - 7200,
      updatedAt: now - 3600,
    },
    {
      sessionId: 'session-003',
      userId: 1,
      agentType: 'amazing',
      messages: [
        { role: 'user', content: '今天天气怎么样？' },
        { role: 'assistant', content: '今天天气晴朗，气温25度。' },
      ],
      metadata: { topic: '天气查询' },
      createdAt: now - 10800,
      updatedAt: now - 7200,
    },
    {
      sessionId: 'session-004',
      userId: 2,
      agentType: 'memo',
      messages: [{ role: 'user', content: '记录一下项目进度' }],
      metadata: {},
      createdAt: now - 1800,
      updatedAt: now - 900,
    },
  ];
}
