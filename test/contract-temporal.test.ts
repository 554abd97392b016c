// The SessionService, SessionRecovery and agent-session contracts against TemporalSessionService on a real dev
// server and Postgres.
import { describeAgentSessionContract } from './support/agent-contract';
import { describeSessionServiceContract } from './support/contract';
import { describeRecoveryContract } from './support/recovery-contract';
import { startTemporalHarness } from './support/temporal-harness';

describeSessionServiceContract('TemporalSessionService', () => startTemporalHarness('contract_temporal'));
describeRecoveryContract('TemporalSessionService', () => startTemporalHarness('recovery_temporal'));
describeAgentSessionContract('TemporalSessionService', () => startTemporalHarness('agent_temporal'), {
  transcript: true,
  watch: true,
});
