/**
 * Edge sites on NATS leaf nodes: site configuration, nats-server configs for hub and site, the
 * site's permissions at the hub, the hub link probe, the feedback backlog, model advertisement.
 */
export { parseSiteConfig, loadSiteConfig, siteModels, hubModels, type SiteConfig, type SiteModel, type ModelPlace, type FallbackPolicy } from './site-config.js';
export { hubServerConfig, siteServerConfig, renderServerConfig, type HubServerOptions, type SiteServerOptions, type ServerUser, type TlsFiles, type HubSite } from './server-config.js';
export { UPLINK_STAGE, UPLINK_STREAM, UPLINK_NAMESPACE, HUB_MODEL_SUBJECTS, HUB_MODEL_SERVED, hubModelNamespace, FEEDBACK_STREAM, FEEDBACK_EVENTS, DEFAULT_ACCOUNT, jsApiPrefix, domainOfApiPrefix, siteOfDeliverPrefix, siteInboxPrefix, siteDeliverPrefix, siteModelPrefix, siteUplinkBucket, siteUplinkObjectGrants, siteFeedbackSource, siteLeafPermissions, type SubjectPermissions } from './subjects.js';
export { HubLink, hubDownError, type LinkState, type HubLinkOptions } from './hub-link.js';
export { FeedbackBacklog, type BacklogSnapshot } from './feedback-backlog.js';
export { advertiseModels, parseLeafSubscriptions, modelToken, modelFromToken, type AdvertisedSite } from './site-advert.js';
export { hubServiceUsers, siteServiceUsers, hubUserTemplates, siteUserTemplates, sitePasswordEnv } from './service-users.js';
export { SourceGaps, sourceKey, parseSourceHeader, SOURCE_HEADER, type SourceGap } from './source-gaps.js';
