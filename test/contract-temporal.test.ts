// The SessionService and SessionRecovery contracts against TemporalSessionService on a real dev server and Postgres.
import { describeSessionServiceContract } from './support/contract';
import { describeRecoveryContract } from './support/recovery-contract';
import { startTemporalHarness } from './support/temporal-harness';

describeSessionServiceContract('TemporalSessionService', () => startTemporalHarness('contract_temporal'));
describeRecoveryContract('TemporalSessionService', () => startTemporalHarness('recovery_temporal'));
