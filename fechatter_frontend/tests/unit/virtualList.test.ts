import { mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { h, nextTick } from 'vue';

import VirtualList from '@/components/VirtualList.vue';
import { computeOffsets, computeRange, indexAtOffset } from '@/lib/virtualWindow';

describe('computeOffsets', () => {
  it('uses measured heights and the estimate for the rest', () => {
    const offsets = computeOffsets(['a', 'b', 'c'], new Map([['b', 100]]), 50);
    expect([...offsets]).toEqual([0, 50, 150, 200]);
  });
});

describe('indexAtOffset', () => {
  const offsets = computeOffsets(['a', 'b', 'c', 'd'], new Map(), 10);

  it('finds the item containing a position', () => {
    expect(indexAtOffset(offsets, 0)).toBe(0);
    expect(indexAtOffset(offsets, 9.5)).toBe(0);
    expect(indexAtOffset(offsets, 10)).toBe(1);
    expect(indexAtOffset(offsets, 35)).toBe(3);
  });

  it('clamps positions past the end', () => {
    expect(indexAtOffset(offsets, 1_000)).toBe(3);
  });
});

describe('computeRange', () => {
  const keys = Array.from({ length: 10_000 }, (_, index) => `k${index}`);
  const offsets = computeOffsets(keys, new Map(), 50);

  it('covers the viewport and the overscan', () => {
    const range = computeRange(offsets, 50_000, 800, 400, 1_000);
    expect(range.start).toBe(992);
    expect(range.end).toBe(1_025);
  });

  it('stays bounded for a huge viewport', () => {
    const range = computeRange(offsets, 0, 1_000_000, 800, 150);
    expect(range.end - range.start).toBe(150);
  });

  it('renders the tail at the bottom', () => {
    const range = computeRange(offsets, 10_000 * 50 - 800, 800, 400, 1_000);
    expect(range.end).toBe(10_000);
  });

  it('is empty for an empty list', () => {
    expect(computeRange(new Float64Array(1), 0, 800, 400, 150)).toEqual({ start: 0, end: 0 });
  });
});

interface Row {
  id: number;
}

const rowKey = (item: unknown) => String((item as Row).id);
const rowSlot = ({ item }: { item: unknown }) => h('p', { class: 'row' }, `row ${(item as Row).id}`);

describe('VirtualList', () => {
  const original = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');

  beforeEach(() => {
    // jsdom does no layout; give the viewport a height so the window has something to cover.
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
  });

  afterEach(() => {
    if (original) {
      Object.defineProperty(HTMLElement.prototype, 'clientHeight', original);
    }
  });

  it('renders a bounded window of 10,000 items', async () => {
    const items = Array.from({ length: 10_000 }, (_, index) => ({ id: index }));
    const wrapper = mount(VirtualList, {
      props: { items, itemKey: rowKey, estimateHeight: 40, overscan: 400 },
      slots: { default: rowSlot },
    });
    await nextTick();
    await nextTick();
    const rows = wrapper.findAll('.row');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(30);
    expect(rows[0]!.text()).toBe('row 0');
  });

  it('moves the window when scrolled', async () => {
    const items = Array.from({ length: 10_000 }, (_, index) => ({ id: index }));
    const wrapper = mount(VirtualList, {
      props: { items, itemKey: rowKey, estimateHeight: 40, overscan: 0 },
      slots: { default: rowSlot },
    });
    const viewport = wrapper.element as HTMLElement;
    viewport.scrollTop = 40 * 5_000;
    await wrapper.trigger('scroll');
    await nextTick();
    const rows = wrapper.findAll('.row');
    expect(rows[0]!.text()).toBe('row 5000');
    expect(rows.length).toBeLessThanOrEqual(16);
    expect(wrapper.emitted('visible')?.at(-1)).toEqual([5_000, 5_016]);
  });

  it('asks for older items near the top', async () => {
    const items = Array.from({ length: 100 }, (_, index) => ({ id: index }));
    const wrapper = mount(VirtualList, {
      props: { items, itemKey: rowKey, estimateHeight: 40 },
      slots: { default: rowSlot },
    });
    (wrapper.element as HTMLElement).scrollTop = 0;
    await wrapper.trigger('scroll');
    expect(wrapper.emitted('reach-top')).toBeTruthy();
  });
});
