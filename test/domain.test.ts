import { describe, expect, it } from 'vitest';
import { clusterOf, describeSubject, isSubject, namespaceOf, subjectName, subjectOf } from '../src/domain/subjects.js';
import { DOCKER_HUB_REGISTRY, digestOfImage, hasDigest, imageWithoutTag, parseImageRef, registryHost, tagOfImage } from '../src/domain/image-ref.js';
import { clip, oneLine, plural, short } from '../src/domain/text.js';
import { formatMs } from '../src/domain/duration.js';

const DIGEST = `sha256:${'8b96908d'.padEnd(64, '0')}`;

describe('subjects', () => {
  it('builds every subject the incident model names', () => {
    expect(subjectOf.worker('cost-optimizer-worker')).toBe('worker:cost-optimizer-worker');
    expect(subjectOf.workload({ cluster: 'rackspace', namespace: 'relay', kind: 'DaemonSet', name: 'relay' })).toBe('workload:rackspace/relay/DaemonSet/relay');
    expect(subjectOf.workload('rackspace/relay/DaemonSet/relay')).toBe('workload:rackspace/relay/DaemonSet/relay');
    expect(subjectOf.endpoint('relay-dfw1')).toBe('endpoint:relay-dfw1');
    expect(subjectOf.service('relay')).toBe('service:relay');
    expect(subjectOf.cluster('prod')).toBe('cluster:prod');
    expect(subjectOf.confighub()).toBe('confighub');
  });

  it('spells an image subject one way however the image is written', () => {
    expect(subjectOf.image('nginx')).toBe('image:docker.io/library/nginx:latest');
    expect(subjectOf.image('docker.io/library/nginx:latest')).toBe('image:docker.io/library/nginx:latest');
    expect(subjectOf.image('not a ref')).toBe('image:not a ref');
  });

  it('reads subjects back: type, name, cluster and namespace', () => {
    expect(isSubject('worker:w', 'worker')).toBe(true);
    expect(isSubject('workload:p/n/Deployment/x', 'worker')).toBe(false);
    expect(isSubject('confighub', 'confighub')).toBe(true);
    expect(isSubject('image', 'image')).toBe(false);
    expect(subjectName('image:ghcr.io/a/b:1', 'image')).toBe('ghcr.io/a/b:1');
    expect(subjectName('worker:w', 'endpoint')).toBeUndefined();
    expect(clusterOf('workload:prod/traderx/Deployment/reference-data')).toBe('prod');
    expect(clusterOf('cluster:rackspace')).toBe('rackspace');
    expect(clusterOf('worker:w')).toBeUndefined();
    expect(namespaceOf('workload:prod/traderx/Deployment/reference-data')).toBe('traderx');
    expect(namespaceOf('endpoint:e')).toBeUndefined();
  });

  it('describes subjects for people', () => {
    expect(describeSubject('workload:rackspace/relay/DaemonSet/relay')).toBe('DaemonSet relay/relay (cluster rackspace)');
    expect(describeSubject('worker:w')).toBe('worker w');
    expect(describeSubject('image:ghcr.io/a/b:1')).toBe('ghcr.io/a/b:1');
    expect(describeSubject('confighub')).toBe('ConfigHub');
    expect(describeSubject('storm')).toBe('storm');
  });
});

describe('images as written', () => {
  it('drops the tag and the digest but keeps a registry port', () => {
    expect(imageWithoutTag('traderx/reference-data:v1')).toBe('traderx/reference-data');
    expect(imageWithoutTag(`ghcr.io/org/app:latest@${DIGEST}`)).toBe('ghcr.io/org/app');
    expect(imageWithoutTag(`127.0.0.1:5000/team/app@${DIGEST}`)).toBe('127.0.0.1:5000/team/app');
    expect(imageWithoutTag('127.0.0.1:5000/team/app')).toBe('127.0.0.1:5000/team/app');
    expect(imageWithoutTag('nginx')).toBe('nginx');
  });

  it('reads the tag as written', () => {
    expect(tagOfImage('ghcr.io/clevertree/relay:v0.2.0')).toBe('v0.2.0');
    expect(tagOfImage(`relay:v0.2.0@${DIGEST}`)).toBe('v0.2.0');
    expect(tagOfImage('127.0.0.1:5000/team/app')).toBeUndefined();
    expect(tagOfImage(`app@${DIGEST}`)).toBeUndefined();
  });

  it('reads the digest an image is pinned to', () => {
    expect(hasDigest(`ghcr.io/org/app@${DIGEST}`)).toBe(true);
    expect(digestOfImage(`ghcr.io/org/app@${DIGEST}`)).toBe(DIGEST);
    expect(hasDigest('ghcr.io/org/app:latest')).toBe(false);
    expect(digestOfImage('ghcr.io/org/app:latest')).toBeUndefined();
  });

  it('knows Docker Hub by all its names', () => {
    for (const name of ['docker.io', 'index.docker.io', 'Registry.Hub.Docker.com']) expect(registryHost(name)).toBe(DOCKER_HUB_REGISTRY);
    expect(registryHost('ghcr.io')).toBe('ghcr.io');
    expect(parseImageRef('index.docker.io/library/nginx').registry).toBe(DOCKER_HUB_REGISTRY);
  });
});

describe('text helpers', () => {
  it('clips long text with an ellipsis, to at most max characters', () => {
    expect(clip('short')).toBe('short');
    expect(clip('x'.repeat(60))).toBe('x'.repeat(60));
    expect(clip('x'.repeat(61))).toBe(`${'x'.repeat(59)}…`);
    expect(clip('abcdef', 4)).toBe('abc…');
  });

  it('folds a multi-line text into one clipped line', () => {
    expect(oneLine('  panic:\n\tfailed   to start \n')).toBe('panic: failed to start');
    expect(oneLine('a\nb c d', 4)).toBe('a b…');
  });

  it('counts in words', () => {
    expect(plural(0, 'pod')).toBe('0 pods');
    expect(plural(1, 'pod')).toBe('1 pod');
    expect(plural(2, 'day')).toBe('2 days');
  });

  it('shortens a digest for a table cell', () => {
    expect(short(DIGEST)).toBe('8b96908d');
    expect(short('8b96908d1234')).toBe('8b96908d');
    expect(short(undefined)).toBe('?');
  });

  it('writes a timeout in the unit it was set in', () => {
    expect(formatMs(300)).toBe('300ms');
    expect(formatMs(10_000)).toBe('10s');
    expect(formatMs(1_500)).toBe('1.5s');
  });
});
